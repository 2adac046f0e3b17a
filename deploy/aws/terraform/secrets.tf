data "aws_secretsmanager_random_password" "encryption_key" {
  password_length     = 48
  exclude_punctuation = true
}

data "aws_secretsmanager_random_password" "superuser" {
  password_length = 32
}

resource "aws_secretsmanager_secret" "roost" {
  #checkov:skip=CKV2_AWS_57:rotating the encryption key makes stored settings unreadable, and the URLs need a rotation Lambda per engine; rotate by hand (docs/production.md)
  for_each                = toset(["db-url", "redis-url", "encryption-key", "superuser-password"])
  name                    = "${var.name}/${each.key}"
  kms_key_id              = aws_kms_key.roost.arn
  recovery_window_in_days = 30
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "roost" {
  for_each  = aws_secretsmanager_secret.roost
  secret_id = each.value.id
  secret_string = {
    "db-url"             = "postgresql://roost:${data.aws_secretsmanager_random_password.db.random_password}@${aws_db_instance.roost.address}:5432/roost?ssl=require"
    "redis-url"          = "rediss://:${data.aws_secretsmanager_random_password.redis.random_password}@${aws_elasticache_replication_group.roost.primary_endpoint_address}:6379/0"
    "encryption-key"     = data.aws_secretsmanager_random_password.encryption_key.random_password
    "superuser-password" = data.aws_secretsmanager_random_password.superuser.random_password
  }[each.key]
  lifecycle {
    ignore_changes = [secret_string]
  }
}
