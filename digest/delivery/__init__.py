"""Delivery adapters: one module per service, found by the registry from `type:` in settings.yaml.

Adapters turn one outbox row's payload into a call to a service and answer with a
`DeliveryResult` in one fixed vocabulary (sent, queued, rejected, failed, unknown).
"""
