resource "aws_ecs_cluster" "roost" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = local.tags
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# pulls the image, writes logs and reads the secrets into the task's environment
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for s in aws_secretsmanager_secret.roost : s.arn]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.roost.arn]
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "read-roost-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

# what Roost itself may do: read and write its file bucket, nothing else
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "task_files" {
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.files.arn}/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.files.arn]
  }
  statement {
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.roost.arn]
  }
}

resource "aws_iam_role_policy" "task_files" {
  name   = "roost-files"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task_files.json
}

locals {
  secret_env = [
    { name = "ROOST_DB_URL", valueFrom = aws_secretsmanager_secret.roost["db-url"].arn },
    { name = "ROOST_REDIS_URL", valueFrom = aws_secretsmanager_secret.roost["redis-url"].arn },
    { name = "ROOST_ENCRYPTION_KEY", valueFrom = aws_secretsmanager_secret.roost["encryption-key"].arn },
  ]
  container = {
    name                   = "roost"
    image                  = var.image
    essential              = true
    command                = ["serve", "--http", "0.0.0.0:8090", "--dir", "/data"]
    portMappings           = [{ containerPort = 8090, protocol = "tcp" }]
    secrets                = local.secret_env
    environment            = [{ name = "ROOST_INSTANCE_ID", value = "auto" }]
    readonlyRootFilesystem = true
    privileged             = false
    user                   = "10001:10001"
    # SIGTERM drains open requests and realtime streams before the task stops
    stopTimeout = 30
    mountPoints = [
      { sourceVolume = "data", containerPath = "/data", readOnly = false },
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8090/api/health', timeout=3).status != 200)"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.roost.name
        "awslogs-region"        = data.aws_region.current.name
        "awslogs-stream-prefix" = "roost"
      }
    }
  }
}

resource "aws_ecs_task_definition" "roost" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.container])
  volume {
    name = "data"
  }
  volume {
    name = "tmp"
  }
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  tags = local.tags
}

# One-off: `aws ecs run-task --task-definition <this> ...` before the first deploy and after
# each upgrade applies migrations and creates or updates the first superuser.
resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions = jsonencode([merge(local.container, {
    name         = "migrate"
    entryPoint   = ["/bin/sh", "-c"]
    command      = ["roost migrate up --dir /data && roost superuser upsert \"$SUPERUSER_EMAIL\" \"$SUPERUSER_PASSWORD\" --dir /data"]
    portMappings = []
    healthCheck  = null
    environment  = [{ name = "SUPERUSER_EMAIL", value = var.superuser_email }]
    secrets = concat(local.secret_env, [
      { name = "SUPERUSER_PASSWORD", valueFrom = aws_secretsmanager_secret.roost["superuser-password"].arn },
    ])
  })])
  volume {
    name = "data"
  }
  volume {
    name = "tmp"
  }
  tags = local.tags
}

resource "aws_ecs_service" "roost" {
  name                               = var.name
  cluster                            = aws_ecs_cluster.roost.id
  task_definition                    = aws_ecs_task_definition.roost.arn
  desired_count                      = var.min_tasks
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 60
  propagate_tags                     = "SERVICE"
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.roost.arn
    container_name   = "roost"
    container_port   = 8090
  }
  lifecycle {
    ignore_changes = [desired_count] # owned by the autoscaler
  }
  depends_on = [aws_lb_listener.https]
  tags       = local.tags
}

resource "aws_appautoscaling_target" "roost" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.roost.name}/${aws_ecs_service.roost.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu"
  service_namespace  = aws_appautoscaling_target.roost.service_namespace
  resource_id        = aws_appautoscaling_target.roost.resource_id
  scalable_dimension = aws_appautoscaling_target.roost.scalable_dimension
  policy_type        = "TargetTrackingScaling"
  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
