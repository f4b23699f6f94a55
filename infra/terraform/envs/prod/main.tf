# Production environment (PHI): three AZs, NAT egress, Multi-AZ RDS with 35-day backups, a 3-node
# Redis replication group with automatic failover, private-only EKS API, longer retention everywhere.
# The wiring is modules/platform, shared with dev; only the settings below differ.

locals {
  environment = "prod"
}

module "platform" {
  source = "../../modules/platform"

  environment        = local.environment
  availability_zones = var.availability_zones
  vpc_cidr           = var.vpc_cidr
  enable_nat_gateway = true
  log_retention_days = 731

  kms_deletion_window_in_days    = 30
  key_administrator_arns         = var.key_administrator_arns
  secret_recovery_window_days    = 30
  deid_key_break_glass_role_arns = var.deid_key_break_glass_role_arns

  lakehouse_noncurrent_version_expiration_days = 90
  lakehouse_object_lock_enabled                = true
  lakehouse_object_lock_retention_days         = 30

  cluster_admin_role_arns    = var.cluster_admin_role_arns
  eks_endpoint_public_access = false
  cpu_instance_types         = var.cpu_instance_types
  cpu_nodes                  = { min_size = 3, max_size = 12, desired_size = 3, disk_size_gib = 200 }
  gpu_instance_types         = var.gpu_instance_types
  gpu_max_nodes              = var.gpu_max_nodes
  gpu_disk_size_gib          = 500

  rds_instance_class          = var.rds_instance_class
  rds_allocated_storage       = 100
  rds_max_allocated_storage   = 1000
  rds_multi_az                = true
  rds_backup_retention_period = 35
  rds_monitoring_interval     = 15

  rds_performance_insights_retention_period = 731
  rds_deletion_protection                   = true

  redis_node_type                = var.redis_node_type
  redis_num_cache_clusters       = 3
  redis_snapshot_retention_limit = 14
}
