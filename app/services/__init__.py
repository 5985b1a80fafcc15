"""Services: plain functions that take ids and values, return models or raise a ServiceError subclass.

Every write runs inside `unit_of_work(...)`; every id from another bind is checked by `app.services.guards`.
Services never touch `request`, `session` or templates; the acting user comes from `app.db.actor`.
"""
