// Native tests of the gateway on the app's ports (see gateway.rs).
