"""The model library: which GGUF/GGML models the user has, what each one is, whether it
fits, under which licence, and how to get more.

Nothing here loads a model or imports a runtime: ``library`` records files and calls the
child-process probe, ``describe`` reads headers, ``fit`` does arithmetic, ``download``
runs only when the user asks. The CLI (``desk_assistant.cli.models_cmd``) and the desktop
model picker are two views of ``library.ModelLibrary``.
"""
