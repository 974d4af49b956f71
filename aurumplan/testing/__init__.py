"""Test support shipped with aurumplan: local fake APIs and recorded-response transports."""
