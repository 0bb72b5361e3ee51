"""``server.rest.limits`` of the plant file: the bounds of ``aas.limits.Limits``, each optional.

The defaults live once, in ``Limits``; this schema only says which keys exist and that each is
positive, so a misspelt key or a zero is an error naming its line like every other setting.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt

from twinbridge.aas.limits import DEFAULT, Limits


class LimitSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body_bytes: PositiveInt = DEFAULT.body_bytes
    attachment_bytes: PositiveInt = DEFAULT.attachment_bytes
    thumbnail_bytes: PositiveInt = DEFAULT.thumbnail_bytes
    package_bytes: PositiveInt = DEFAULT.package_bytes
    package_inflated_bytes: PositiveInt = DEFAULT.package_inflated_bytes
    package_entries: PositiveInt = DEFAULT.package_entries
    package_ratio: PositiveInt = DEFAULT.package_ratio
    package_seconds: PositiveFloat = DEFAULT.package_seconds
    json_depth: PositiveInt = DEFAULT.json_depth
    number_digits: PositiveInt = DEFAULT.number_digits
    path_depth: PositiveInt = DEFAULT.path_depth
    submodel_elements: PositiveInt = DEFAULT.submodel_elements

    def limits(self) -> Limits:
        return Limits(**self.model_dump())
