variable "name" {
  description = "Prefix for every resource name."
  type        = string
  default     = "roost"
}

variable "vpc_id" {
  description = "VPC to run in."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets for the load balancer (at least two availability zones)."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets for the tasks, the database and Redis (at least two availability zones)."
  type        = list(string)
}

variable "image" {
  description = "Roost container image (built from deploy/docker/Dockerfile), e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/roost:1.0.0."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener."
  type        = string
}

variable "superuser_email" {
  description = "Email of the first superuser, created by the one-off migrate task."
  type        = string
}

variable "task_cpu" {
  description = "CPU units per task (1024 = one vCPU)."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "Memory per task in MiB."
  type        = number
  default     = 2048
}

variable "min_tasks" {
  description = "Fewest tasks the service scales down to."
  type        = number
  default     = 2
}

variable "max_tasks" {
  description = "Most tasks the service scales up to."
  type        = number
  default     = 10
}

variable "cpu_target_percent" {
  description = "Average CPU the autoscaler aims for."
  type        = number
  default     = 60
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage" {
  description = "Initial RDS storage in GiB (grows automatically up to ten times this)."
  type        = number
  default     = 50
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps the tasks' logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "waf_acl_arn" {
  description = "WAFv2 web ACL to attach to the load balancer (empty: none)."
  type        = string
  default     = ""
}
