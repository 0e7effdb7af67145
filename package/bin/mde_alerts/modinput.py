"""placeholder"""
def validate_input(parameters):
    return None
def stream_events(metadata, inputs, event_writer):
    return None
