"""``python -m ctr_router``: the router under uvicorn (host, port from ``UVICORN_*``)."""

import uvicorn


def main() -> None:
    uvicorn.main(["--factory", "ctr_router.app:create_app"])


if __name__ == "__main__":
    main()
