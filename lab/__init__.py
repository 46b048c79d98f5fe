"""The careops lab: an emulated AWS account with the platform's estate, and a podman fleet."""

# The emulator accepts any credentials; these are the lab's, written to .lab/env. They are
# long and unlike any word on purpose: Ansible masks a no_log value wherever it appears in
# output, and a secret key of "lab" once turned every "available" into "avai********le".
ACCESS_KEY_ID = "LABEMULATORKEY01"
SECRET_ACCESS_KEY = "careops-lab-throwaway-secret"  # noqa: S105  # pragma: allowlist secret
