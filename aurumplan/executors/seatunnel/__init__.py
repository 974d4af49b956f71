"""SeaTunnel config side: option tables, a SeaTunnel-aware reader, conformance checks, rendering."""
