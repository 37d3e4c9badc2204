"""study_app: the human real-vs-fake study (Streamlit), its storage and analysis."""
