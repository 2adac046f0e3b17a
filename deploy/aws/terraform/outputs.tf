output "url" {
  description = "The load balancer's DNS name (point your domain's CNAME here)."
  value       = "https://${aws_lb.roost.dns_name}"
}

output "files_bucket" {
  description = "Set this bucket in Roost's file storage settings (the task role can use it)."
  value       = aws_s3_bucket.files.bucket
}

output "migrate_task_definition" {
  description = "Run once before the first deploy and after each upgrade."
  value       = aws_ecs_task_definition.migrate.arn
}

output "superuser_password_secret" {
  description = "Secrets Manager secret holding the first superuser's password."
  value       = aws_secretsmanager_secret.roost["superuser-password"].arn
}
