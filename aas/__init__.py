"""twinbridge: aas room.

Importing it installs compat_basyx's lazily created empty containers before any model object is
built (they halve an element's memory; see that module).
"""

from twinbridge.aas import compat_basyx as _compat_basyx  # noqa: F401
