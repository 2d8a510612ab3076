from fastapi import APIRouter

router = APIRouter(prefix="/workspace", include_in_schema=False)
