"""`visit-gateway report`: response times and load per rotation week, person and label.

Holds reading the rows from the store (`data`), the pure aggregation (`aggregate`) and the table,
CSV, JSON and HTML renderers (`render`). May import `duty`, `store`, `config` and the base
modules; never `web`, `ops` or the composition root.
"""
