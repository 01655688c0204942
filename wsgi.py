"""Production entry point: `gunicorn -w 4 -b 0.0.0.0:8000 wsgi:app` (with `--preload`).

The app is built once; its long-lived objects (views, forms, mappers, templates) are then moved out
of the garbage collector's sight with gc.freeze(), so collections during requests only walk the
request's own objects — measured to cut back-office page times by about a quarter (bench/README.md).
"""
from app import create_app
from crm.serving import prepare_for_serving

app = create_app()
prepare_for_serving()
