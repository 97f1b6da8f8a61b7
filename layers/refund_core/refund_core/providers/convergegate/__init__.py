"""ConvergeGate APM Checkout refunds: `GET {merchant url}/v1/refunds/{id}`, HTTP Basic."""
