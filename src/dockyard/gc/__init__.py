"""Online garbage collection: review queues filled by the schema's triggers, worked by every instance."""
