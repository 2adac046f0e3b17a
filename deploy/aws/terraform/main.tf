# Roost on AWS: stateless ECS Fargate tasks behind an ALB, RDS PostgreSQL for data, ElastiCache
# Redis for the broker, rate limits and caches, S3 for files, Secrets Manager for every secret.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  tags = merge({ "app" = var.name }, var.tags)
}

resource "aws_kms_key" "roost" {
  description             = "${var.name}: secrets, logs, database, Redis and file bucket"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:a key policy's resource is always the key itself; "*" is how key policies name it
  #checkov:skip=CKV_AWS_356:same as above: the policy is attached to this one key
  #checkov:skip=CKV_AWS_109:the account root must administer the key or it becomes unmanageable
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

resource "aws_kms_alias" "roost" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.roost.key_id
}

resource "aws_cloudwatch_log_group" "roost" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.roost.arn
  tags              = local.tags
}
