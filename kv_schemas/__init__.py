"""msgspec schemas of every value edgeline keeps in Workers KV."""
