-- n8n keeps its own database beside the hub's.
CREATE DATABASE n8n OWNER hub;
