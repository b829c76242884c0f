"""Stage 1, sources: find the pristine images, decode and check them, write canonical PNGs.

`prepare`: discovery (scikit-image names, folders, manifests, the published layout), the
canonicalisation rules and the sources manifest; `index`: the sources index (each file's
sha256, before decoding). Imports only the shared base.
"""
