"""The careops lab: an emulated AWS account with the platform's estate, and a podman fleet."""
