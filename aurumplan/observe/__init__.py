"""Fleet observability: metrics, health, cost and trends, dashboard and alerts (docs/observability.md)."""
