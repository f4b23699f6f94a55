variable "name" {
  description = "Name prefix for network resources."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR of /20 or larger."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread subnets over (at least two: EKS, RDS and ElastiCache subnet groups need two)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "At least two availability zones are required."
  }
}

variable "private_subnet_cidrs" {
  description = "One private (workload) subnet CIDR per availability zone."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.private_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "private_subnet_cidrs must be valid IPv4 CIDRs."
  }
}

variable "enable_nat_gateway" {
  description = "Create public subnets (NAT only, nothing else is placed there) and one NAT gateway per AZ. When false, workloads reach AWS only through VPC endpoints."
  type        = bool
  default     = false
}

variable "public_subnet_cidrs" {
  description = "One public subnet CIDR per AZ, used only for NAT gateways when enable_nat_gateway is true."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "public_subnet_cidrs must be valid IPv4 CIDRs."
  }
}

variable "interface_endpoint_services" {
  description = "AWS services reached through interface VPC endpoints (service short names, e.g. ecr.api). S3 always gets a gateway endpoint."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager", "kms", "ec2", "elasticloadbalancing", "eks", "eks-auth"]

  validation {
    condition     = length(setintersection(toset(var.interface_endpoint_services), toset(["ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager"]))) == 5
    error_message = "interface_endpoint_services must include ecr.api, ecr.dkr, sts, logs and secretsmanager."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN encrypting the VPC flow log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the VPC flow log group in days (>= 365 for audit evidence)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value of at least 365 days."
  }
}
