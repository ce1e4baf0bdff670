"""The Streamlit side of Neuralis: the only package that imports streamlit."""
