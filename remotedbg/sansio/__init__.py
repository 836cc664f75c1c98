"""Pure logic, with no sockets, threads, frameworks or debugpy: addresses, the walk of
forwarding headers, and the DAP codec. A test keeps it that way."""
