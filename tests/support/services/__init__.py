"""Real services started for the tests on free loopback ports, and the servers and
proxies the stand-ins are built on."""
