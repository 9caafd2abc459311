from server.db.base import Base, JSONType, UTCDateTime, utcnow
from server.db.engine import Database, dialect_name, rowcount

__all__ = ["Base", "Database", "JSONType", "UTCDateTime", "dialect_name", "rowcount", "utcnow"]
