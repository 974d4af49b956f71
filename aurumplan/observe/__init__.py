"""Fleet observability: metrics, health, cost and trends, dashboard and alerts (docs/operations.md)."""
