"""``python -m ctr_serving``: the same server as the image's CMD (uvicorn, factory app)."""

import uvicorn


def main() -> None:
    # Host, port and the rest come from UVICORN_* variables, like the `uvicorn` command.
    uvicorn.main(["--factory", "ctr_serving.app:create_app"])


if __name__ == "__main__":
    main()
