"""The read side: status and progress of operations, computed once here for every view."""
