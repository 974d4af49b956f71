__version__ = "0.1.0"

# The team database default: the CLI shows it in --help without importing aurumplan.api (issue 18).
TEAM_DB_URL = "postgresql+psycopg://aurumplan@127.0.0.1:5432/aurumplan"
