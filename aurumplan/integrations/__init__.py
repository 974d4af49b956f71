"""Integrations with a team's tools: GitHub Actions and pre-commit templates (`init --team`), Airflow.

Nothing here is imported by aurumplan itself at import time; `aurumplan.integrations.airflow` needs the
`aurumplan[airflow]` extra (docs/team-workflow.md).
"""
