"""AWS on one machine: the resources of template.yaml, run by moto and local Lambda workers.

Dev-only (never deployed). `template` reads template.yaml into typed models, `lambdas` runs each
function in its own worker process, `moto_patches` routes moto's Lambda invocations to those
workers, and `emulator.LocalAws` ties them together behind one local endpoint.
"""
