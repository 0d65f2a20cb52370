"""mm-plugin-hopper: an example third-party mm plugin that adds the ``hopper`` embodiment.

Read ``hooks.py`` (what mm calls) and ``model.py`` (the model); the README walks through writing your own.
"""
