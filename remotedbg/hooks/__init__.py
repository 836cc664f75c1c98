"""The request hooks: each turns a framework's request into facts for the gate."""
