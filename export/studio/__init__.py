"""The design studio: a Streamlit page where a designer explores an exported generator and leaves with
production files (`python -m export studio [MODELS_DIR | MODEL.onnx ...]`).

- recipes.py: a tile as text (model, class, latent recipe) and the latents it stands for; pure numpy.
- catalog.py: the exported models under the given folders, their sidecar facts, opening one.
- render.py: patterns generated once per recipe (one batch per grid) and everything made from them.
- files.py: the downloads (tile, repeat, colourway, garments, design sheet, collection zip).
- desk.py: favourites, history and the current view in a small local JSON file (nothing sent anywhere).
- serve.py: the `studio` verb; session.py, app.py and views/: the Streamlit app.

Importing this package imports none of them (no streamlit, no onnxruntime).
"""
