"""Inbound webhooks: endpoints per connection, verification at the door, the event store and
its delivery to n8n. Other packages use `hub.webhooks.service`."""
