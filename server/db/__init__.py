from server.db.base import Base, JSONType, UTCDateTime, utcnow
from server.db.engine import Database

__all__ = ["Base", "Database", "JSONType", "UTCDateTime", "utcnow"]
