"""careops audit engine: read an AWS account (collect) and evaluate the catalogue (checks).

Lives in the playbooks' module_utils folder so that Ansible ships it with the modules that
import it (careops_audit, and the baseline modules); tests and the benchmark import it
from here too.
"""
