"""Server-side media: the recorder peer that writes received tracks without transcoding."""
