"""`fix`: repairs for what doctor finds.

The shape (DESIGN.md): a pure *plan* turns a request and the objects it reads into
`Change`s; each change carries an `edit`, a pure function from the object as it is
now to the object as it must be. The *apply* layer (apply.py) is the only writer:
it reads the current object, runs the edit, writes only if something changed, with
the resourceVersion it read, and on a 409 reads again and re-runs the edit. So a
fix is idempotent (an edit of an already-fixed object changes nothing, and nothing
is written) and never loses a concurrent change (the edit is re-applied to the
newer object instead of overwriting it).
"""
