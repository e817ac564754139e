"""Request dependencies of the sharing service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .settings import SharingSettings


async def get_settings(request: Request) -> SharingSettings:
    settings = request.app.state.settings
    assert isinstance(settings, SharingSettings)
    return settings


SettingsDep = Annotated[SharingSettings, Depends(get_settings)]
