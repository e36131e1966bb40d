"""Virtual keys: issued by the admin API, stored hashed in the store, enforced through shared state.

`registry` keeps every replica's view of the keys current (a poll of the store, hurried by pub/sub);
`allow` matches a key's model allow-list; `enforce` admits a request under its key's limits and
budget, then settles it to the true cost. This package sits beside the pipeline: it reads the store
and the shared state, and the front ends call it.
"""
