"""The leaderboard's pages (each one a Streamlit script run by ``st.navigation`` in ``app.py``)."""
