"""a revision with a syntax error"""
revision = "001"
down_revision = None


def upgrade():
    op.add_column("users", sa.Column("x", sa.Text())  # the closing parenthesis is missing


def downgrade():
    pass
