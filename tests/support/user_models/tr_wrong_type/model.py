"""A user model whose build returns something that is not an nn.Module."""


def build(spec):
    return {"layers": 2}
