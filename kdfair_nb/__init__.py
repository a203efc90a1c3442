__version__ = "0.1.0"

import warnings as _w
# fastai/timm call torch.jit.script at import time, which torch 2.14 flags as deprecated: noise for our users.
_w.filterwarnings('ignore', message=r'`torch\.jit\.script` is deprecated', category=FutureWarning)
