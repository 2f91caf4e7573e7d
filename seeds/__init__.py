"""The five seed newspaper pages, shipped as demo input (`healthtag tag seeds/`)."""
