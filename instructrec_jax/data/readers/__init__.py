"""Raw-data readers: RecBole atomic files, MovieLens-100K, Amazon Review Data 2018."""
